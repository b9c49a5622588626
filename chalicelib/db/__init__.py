"""DynamoDB: table definitions (the single source of truth), models and the unit of work."""
