"""Pure notification logic: delivery identity and retry rules, message building, template rendering."""
