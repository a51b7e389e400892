"""Use cases behind the HTTP routes: one module a use case; handlers only wire them to routes."""
