"""The Knowledge page: device-local folders the model may search."""
