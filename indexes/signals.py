from django.dispatch import Signal

#: Sent (after commit) when an index becomes ready; `index` is the Index. BrAPI publishes it.
index_ready = Signal()
