"""The one search path: the service that runs the stages in order."""
