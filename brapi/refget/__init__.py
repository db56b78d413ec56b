"""GA4GH refget v2.0 sequences and Sequence Collections v1 over the BrAPI reference sets.

The same sequences, bases storage (`brapi.storage`) and visibility (`brapi.selectors`) as
BrAPI: every Reference is a refget sequence (by MD5 or GA4GH digest), every ReferenceSet a
sequence collection. Routes live under /refget/ (`brapi.refget.urls`).
"""
