"""Pure survey rules in the guide's words: templates, answer validation, signed links, member-list import."""
