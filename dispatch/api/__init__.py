"""The HTTP API: dependencies (``deps``), error handling (``errors``) and one router per
resource (``routes``)."""
