"""Health, the OpenAPI document, dashboard counters and scheduled-job runs."""
