"""The Gradio chat UI over the engine: pure rendering in ``ui.render``, the page in ``ui.app``."""
