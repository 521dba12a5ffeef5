"""HTML reports: the page and its pieces (inline images, curves, tables); `commands.report` fills them."""
