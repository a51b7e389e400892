"""DynamoDB and S3 access. Public functions take and return domain objects, never rows."""
