"""marshmallow schemas: parse requests into plain data and report every bad field."""
