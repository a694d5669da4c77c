"""Built-in condition operators of tocsin."""
