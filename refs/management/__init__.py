"""Management commands of refs (see commands/)."""
