"""Management commands of references: import, export, clone and delete references, and setup_demo."""
