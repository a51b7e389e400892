"""The local stack: moto's server as AWS, the template's routes served by the real handlers."""
