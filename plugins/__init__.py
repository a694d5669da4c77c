"""Built-in plugins of tocsin: field extractors, routing actions, rotation strategies, channels."""
