"""What listeners read: the RSS feed (``feed``), page models (``pages``), templates (``templating``), HTML and URL
cleaning (``sanitize``) and published artwork (``artwork``)."""
