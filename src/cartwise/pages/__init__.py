"""What each dashboard page and its JSON twin show: read models over the store and the service."""
