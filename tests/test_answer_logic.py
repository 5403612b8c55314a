"""Pure answer logic: condensing follow-ups, question parts, citation checks (deterministic fakes)."""

from __future__ import annotations

import numpy as np

from rag.answering.cite import check
from rag.answering.condense import condense, needs_context
from rag.answering.evidence import Sentence
from rag.answering.parts import split_parts
from rag.types import Chunk, DocMeta, Passage


def test_follow_up_carries_the_entities_of_the_previous_question() -> None:
    history = [{"role": "user", "content": "Who did Putin meet in Hanoi?"},
               {"role": "assistant", "content": "He met To Lam."}]
    out = condense("How many agreements did they sign?", history)
    assert "Putin" in out and "Hanoi" in out and out.startswith("How many agreements did they sign?")


def test_follow_up_carries_the_topic_words_that_its_pronoun_stands_for() -> None:
    history = [{"role": "user", "content": "What did Iran reportedly help Russia build in Tatarstan?"},
               {"role": "assistant", "content": "A factory for lethal offensive drones."}]
    out = condense("Which model can it turn out?", history)
    carried = out.removeprefix("Which model can it turn out? (").removesuffix(")").split(", ")
    assert carried == ["Iran", "Russia", "Tatarstan", "reportedly", "help", "build"]


def test_self_contained_question_is_left_alone() -> None:
    history = [{"role": "user", "content": "Who did Putin meet in Hanoi?"}]
    q = "What did Iran help Russia build in Tatarstan?"
    assert not needs_context(q) and condense(q, history) == q


def test_a_standalone_question_after_unrelated_turns_is_read_as_written() -> None:
    history = [{"role": "user", "content": "Who did Putin meet in Hanoi?"},
               {"role": "assistant", "content": "He met To Lam."}]
    for q in ("Why did the council raise bus fares in Fenwick Vale?",
              "So what did the treaty commit each side to?",
              "And when was the Lantern Festival first held in Port Almsley?",
              "Is there a ferry from Almsley to the island?",
              "Who said that Russia would send volunteers?",
              "What is this year's budget for the Almsley library?",
              "Why did Kim say he would back Russia?",  # "he" has a name before it to refer to
              "What is the council's budget and who approved it?"):
        assert not needs_context(q), q
        assert condense(q, history) == q


def test_a_question_leaning_on_earlier_turns_carries_them() -> None:
    for q in ("How much did it cost?", "And who did he meet in Hanoi the next day?", "And the second one?",
              "What about Vietnam?", "How does that compare with Vietnam's trade with China?",
              "How much of that is coming from the council?"):
        assert needs_context(q), q


def test_multi_part_questions_are_split() -> None:
    assert split_parts("What did X build, and when did Y sign it?") == ["What did X build?", "when did Y sign it?"]
    assert split_parts("Who met in Hanoi?") == ["Who met in Hanoi?"]


class FakeEmbedder:
    """Bag-of-words vectors: enough to exercise the checking logic deterministically."""

    name, dim = "fake", 64

    def embed(self, texts):
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, t in enumerate(texts):
            for w in t.lower().split():
                out[i, hash(w.strip(".,")) % self.dim] += 1
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-9)

    encode = embed


def make_context() -> tuple[list[Passage], list[Sentence]]:
    text = "Putin signed a pact in Pyongyang. The pact commits both sides to military assistance."
    chunk = Chunk(chunk_id="d:0", doc_id="d", position=0, start=0, end=len(text), text=text)
    emb = FakeEmbedder()
    sents = []
    for start, s in ((0, "Putin signed a pact in Pyongyang."),
                     (34, "The pact commits both sides to military assistance.")):
        sents.append(Sentence(key=("d", start, start + len(s)), text=s, chunk_id="d:0",
                              vector=emb.embed([s])[0]))
    return [Passage(chunk=chunk, meta=DocMeta(title="T"))], sents


def one_sentence_articles(texts: dict[str, str], scores: dict[str, float],
                          strays: frozenset[str] = frozenset()) -> tuple[dict[str, Passage], list[Sentence]]:
    """Articles of one sentence each (doc id -> text), the sentences scored as given; ``strays`` are stray chunks of
    long articles, not backed by other candidates."""
    passages, sentences = {}, []
    for doc, text in texts.items():
        chunk = Chunk(chunk_id=f"{doc}:0", doc_id=doc, position=0, start=0, end=len(text), text=text)
        passages[chunk.chunk_id] = Passage(chunk=chunk, meta=DocMeta(title=doc))
        sentences.append(Sentence(key=(doc, 0, len(text)), text=text, chunk_id=chunk.chunk_id, score=scores[doc],
                                  context_score=scores[doc], own_score=scores[doc], backed=doc not in strays))
    return passages, sentences


def answered_from(text: str, question: str) -> bool:
    """Whether the extractive synthesizer answers the question from an article of this one sentence."""
    from rag.answering.synthesize import extract

    passages, sentences = one_sentence_articles({"a": text}, {"a": 0.6})
    return not extract(sentences, passages, question=question, max_sentences=2, threshold=0.25).abstained


def test_supported_sentences_keep_a_verbatim_quote_and_markers_are_renumbered() -> None:
    passages, sents = make_context()
    out = check("The pact commits both sides to military assistance [1].", passages, sents, FakeEmbedder(), 0.5)
    assert out.citations and out.citations[0].quote == "The pact commits both sides to military assistance."
    assert out.text.endswith("[1]") and not out.unsupported


def test_markers_pointing_at_no_source_are_dropped_and_invented_figures_are_flagged() -> None:
    passages, sents = make_context()
    out = check("Putin signed a pact in Pyongyang [7]. The pact cost 90 billion dollars [1].",
                passages, sents, FakeEmbedder(), 0.5)
    assert "[7]" not in out.text
    assert any("90 billion" in u for u in out.unsupported)
    assert "90 billion" not in out.text


def test_a_claim_is_supported_only_by_a_passage_about_what_the_question_names() -> None:
    """The pact sentence is about Putin's pact (the sentence before it names Putin and Pyongyang), not Seoul's."""
    passages, sents = make_context()
    claim = "The pact commits both sides to military assistance [1]."
    about_putin = check(claim, passages, sents, FakeEmbedder(), 0.5, question="What does Putin's pact commit to?")
    assert about_putin.citations and not about_putin.unsupported
    about_seoul = check(claim, passages, sents, FakeEmbedder(), 0.5, question="What does the Seoul accord commit to?")
    assert not about_seoul.citations and about_seoul.unsupported == [claim[:-5] + "."]


def test_a_model_that_says_the_sources_are_silent_abstains() -> None:
    passages, sents = make_context()
    assert check("The articles don't say.", passages, sents, FakeEmbedder(), 0.5).abstained


def test_a_question_focus_names_a_role_and_its_holder_or_a_title() -> None:
    from rag.answering.focus import Focus, focus

    assert focus("Who is the current Secretary-General of the United Nations?") == Focus(("United", "Nations"),
                                                                                        role="Secretary-General")
    assert focus("Who is the Vietnamese prime minister?") == Focus(title="prime minister")
    assert focus("What is the population of Vietnam?") == Focus()
    assert focus("Why did Putin go?") == Focus()


def test_names_are_present_in_any_derived_form_and_acronyms_exactly() -> None:
    from rag.answering.focus import names_in

    assert names_in("Pyongyang has sent troops to the Ukrainian front, North Korea confirmed", ("North", "Korean"))
    assert not names_in("12 troops were involved", ("North", "Korean"))
    assert not names_in("Austria", ("Australia",))
    assert not names_in("they told us", ("US",))


def test_a_sentence_stating_the_duration_asked_for_fits_a_how_long_question_far_better() -> None:
    """The lead model reads the fit degree: a near-tie sentence from a second article that states no duration fits
    'How long…' far less than the one that does."""
    from rag.answering.synthesize import fit

    texts = {"a": "On a two day visit to Pyongyang, Putin signed a defense pact.",
             "b": "During his visit to Pyongyang, Putin signed an agreement with the country."}
    _, sentences = one_sentence_articles(texts, {"a": 0.53, "b": 0.55})
    q = "How long was Putin's visit to Pyongyang?"
    degree = {s.doc_id: fit(s, q) for s in sentences}
    assert degree["a"] > 4 * degree["b"]


def test_who_holds_a_title_needs_the_title_held_at_that_organisation() -> None:
    from rag.answering.focus import focus, holds

    about = focus("Who is the current Secretary-General of the United Nations?")
    assert about.role == "Secretary-General" and about.names == ("United", "Nations")
    assert not holds("Alexei Smirnov, a Secretary General at the National Affairs Council, was welcomed by the "
                     "United Nations.", about.role, about.names)
    assert holds("UN Secretary-General António Guterres spoke.", about.role, about.names)
    assert holds("António Guterres, Secretary-General of the United Nations, spoke.", about.role, about.names)
    assert holds("North Korean leader Kim Jong Un met Putin.", "leader", ("North", "Korea"))


def test_headlines_and_photo_captions_count_as_display_text() -> None:
    from rag.answering.evidence import _is_display

    assert _is_display("Iran provides vital military support with the delivery of drones and missiles")
    assert _is_display("Putin (left) and Kim Jong-un (right) speak at a press conference on June 19, 2024. (EPA/Yonhap)")
    assert not _is_display("The factory can produce thousands of drones, US officials said.")
    assert not _is_display("“We will respond,” he said.")


def test_each_part_of_a_two_part_question_gets_its_own_lead() -> None:
    """'What nuclear project did Russia back, and how many agreements were signed?': each part's best sentence leads,
    in the order of the parts."""
    from rag.answering.evidence import Scorer
    from rag.answering.synthesize import extract

    texts = {"a": "Russia agreed to help build a nuclear science and technology center in Vietnam.",
             "b": "Putin and To Lam oversaw the signing of 11 cooperation agreements in Hanoi."}
    passages, sentences = one_sentence_articles(texts, {"a": 0.5, "b": 0.5})

    class Fixed(Scorer):
        def __init__(self, best: str) -> None:
            self.best = best

        def score(self, sentence: Sentence) -> float:
            return 0.6 if sentence.doc_id == self.best else 0.3

    parts = [("What nuclear project did Russia back?", Fixed("a")), ("how many agreements were signed?", Fixed("b"))]
    draft = extract(sentences, passages, question="What nuclear project did Russia back, and how many agreements "
                    "were signed?", parts=parts, max_sentences=3, threshold=0.25)
    assert [c.doc_id for c in draft.citations] == ["a", "b"]


def test_each_part_of_a_question_brings_its_own_best_candidates() -> None:
    from rag.answering.context import _pool
    from rag.answering.retrieve import Candidate

    def cands(*ids: str) -> list[Candidate]:
        return [Candidate(chunk=Chunk(chunk_id=i, doc_id=i, position=0, start=0, end=1, text=i), fused=1.0 / (n + 2))
                for n, i in enumerate(ids)]

    pool = _pool([cands("q1", "q2", "q3", "q4"), cands("p1", "q1", "p2")], 4)
    assert [c.chunk.chunk_id for c in pool] == ["q1", "q2", "q3", "q4", "p1"]


def test_an_either_or_question_is_split_into_its_two_sides() -> None:
    assert split_parts("Has Vietnam been buying Russian weapons, or does it still depend on Russian arms?") == [
        "Has Vietnam been buying Russian weapons?", "Does it still depend on Russian arms?"]
    assert split_parts("Was the trip a sign of desperation or of growing influence?") == [
        "Was the trip a sign of desperation?", "Was the trip a sign of growing influence?"]
    assert split_parts("Is it 5 or 6?") == ["Is it 5?", "Is it 6?"]
    assert split_parts("What did he say or do?") == ["What did he say or do?"]


def test_sentences_of_an_article_the_candidates_cover_well_score_higher() -> None:
    """Three candidates from article 'a' (about the question), one stray chunk of a long unrelated article 'z'."""
    from rag.answering.context import DOC_BONUS, _favour_covered_documents
    from rag.answering.retrieve import Candidate

    def cand(cid: str, doc: str) -> Candidate:
        return Candidate(chunk=Chunk(chunk_id=cid, doc_id=doc, position=0, start=0, end=1, text="x"))

    pool = [cand("a:0", "a"), cand("a:1", "a"), cand("a:2", "a"), cand("z:9", "z"), cand("s:0", "s")]
    sents = [Sentence(key=(d, 0, 1), text="x", chunk_id=f"{d}:0", score=0.5, context_score=0.5) for d in "azs"]
    _favour_covered_documents(sents, pool, {"a": 12, "z": 40, "s": 1}.get)
    a, z, short = sents
    assert a.score == 0.5 * (1 + DOC_BONUS) and z.score == 0.5
    assert short.score == a.score  # a one-chunk article whose only chunk is a candidate is fully covered


def test_a_yes_no_question_also_cites_a_second_view_that_beats_the_lead_on_its_own_merits() -> None:
    """'a' leads only thanks to its well-covered article's bonus; 'b' (one stray chunk) scores higher on its own, so
    a yes/no question cites both views. A question that is not yes/no keeps to the lead."""
    from rag.answering.synthesize import extract

    texts = {"a": "The terms of the pact echo the 1961 treaty and represent a significant escalation.",
             "b": "The terms were not as strong as those of the 1961 alliance treaty, observers said."}
    passages, sentences = one_sentence_articles(texts, {"a": 0.78, "b": 0.70}, strays=frozenset({"b"}))
    a, b = sentences
    a.own_score, b.own_score = 0.65, 0.70
    draft = extract(sentences, passages, question="Is the new pact as strong as the 1961 treaty?", max_sentences=3,
                    threshold=0.25)
    assert [c.doc_id for c in draft.citations] == ["a", "b"]
    draft = extract(sentences, passages, question="What did observers say about the new pact?", max_sentences=3,
                    threshold=0.25)
    assert [c.doc_id for c in draft.citations] == ["a"]


def test_another_articles_sentence_supports_the_answer_only_when_the_reader_vouches_for_it() -> None:
    """The same second view as above joins the yes/no answer when the reader holds that it answers the question, and
    is left out (its article not cited) when the reader does not; the lead's own article needs no vouching."""
    from rag.answering.synthesize import extract

    texts = {"a": "The terms of the pact echo the 1961 treaty and represent a significant escalation.",
             "b": "The terms were not as strong as those of the 1961 alliance treaty, observers said."}
    passages, sentences = one_sentence_articles(texts, {"a": 0.78, "b": 0.70}, strays=frozenset({"b"}))
    a, b = sentences
    a.own_score, b.own_score = 0.65, 0.70
    asked: list[str] = []

    def vouch(believed: bool):
        def judge(s) -> bool:  # noqa: ANN001
            asked.append(s.doc_id)
            return believed
        return judge

    question = "Is the new pact as strong as the 1961 treaty?"
    kept = extract(sentences, passages, question=question, max_sentences=3, threshold=0.25, lead=a, vouch=vouch(True))
    dropped = extract(sentences, passages, question=question, max_sentences=3, threshold=0.25, lead=a,
                      vouch=vouch(False))
    assert [c.doc_id for c in kept.citations] == ["a", "b"]
    assert [c.doc_id for c in dropped.citations] == ["a"]
    assert asked == ["b", "b"]  # only another article's sentence is put to the reader


def test_the_best_candidates_articles_are_searched_again_on_their_own() -> None:
    """Thirty articles that repeat 'new members' and 'BRICS' bury the chunk of article 'a' that lists the members;
    searched for within the articles of the best candidates, it is found, and a stray article's chunks are not."""
    from rag.answering.context import _within_best_articles
    from rag.answering.retrieve import Candidate
    from rag.lexical import LexicalIndex

    def chunk(cid: str, text: str) -> Chunk:
        return Chunk(chunk_id=cid, doc_id=cid.split(":")[0], position=0, start=0, end=len(text), text=text)

    chunks = [chunk("a:0", "BRICS accounted for 31.6% of world GDP at purchasing power parity."),
              chunk("a:1", "Putin praised the BRICS+ group, with new members Egypt, Ethiopia and Iran."),
              chunk("a:2", "The weather in Moscow was mild."),
              *[chunk(f"z{i}:0", f"New members of the BRICS chess club number {i}; new members of BRICS are welcome.")
                for i in range(30)]]
    index = LexicalIndex()
    index.add(chunks, {})

    class Store:
        def get_chunks(self, ids: list[str]) -> list[Chunk]:
            return [c for c in chunks if c.chunk_id in ids]

    best = [Candidate(chunk=chunks[0], fused=0.03), Candidate(chunk=chunks[3], fused=0.02)]
    question = "Which new members are listed for BRICS+?"
    assert "a:1" not in [cid for cid, _, _ in index.search(question, 10)]
    found = _within_best_articles([question], [best], best, Store(), index)  # type: ignore[arg-type]
    assert [c.chunk.chunk_id for c in found][0] == "a:1"
    assert all(c.chunk.doc_id in {"a", "z0"} for c in found) and all(c.fused == 0.02 for c in found)


def test_a_question_asking_for_a_titled_person_needs_someone_given_that_title() -> None:
    """'Who is the Vietnamese prime minister…' is not answered by 'Vietnamese President Tô Lâm' or by a foreign
    minister; 'the name of the Russian ambassador' is not answered by 'summoned the Russian ambassador'."""
    from rag.answering.focus import focus, titled
    from rag.answering.synthesize import extract

    q = "Who is the Vietnamese prime minister that held talks with Putin in Hanoi?"
    assert focus(q).title == "prime minister"
    assert not titled("Vietnamese President Tô Lâm (right) and Putin speak in Hanoi.", "prime minister", q)
    assert not titled("Wang Yi, China’s foreign minister, met Putin in Hanoi.", "prime minister", q)
    assert titled("Prime Minister Pham Minh Chinh held talks with Putin in Hanoi.", "prime minister", q)
    assert titled("Saeed Khatibzadeh, spokesman for Iran’s Foreign Ministry, said so.", "spokesman",
                  "Who was the spokesman for Iran's Foreign Ministry?")
    assert titled("Chinese Foreign Ministry spokeswoman Hua Chunying told reporters.", "spokeswoman",
                  "Who was the Chinese Foreign Ministry spokeswoman?")
    q = "What is the name of the Russian ambassador that South Korea summoned?"
    texts = {"a": "In response, South Korea summoned the Russian ambassador and considered sending weapons to Ukraine.",
             "b": "Shortly after, Putin signed a strategic defense pact with North Korean leader Kim Jong Un."}
    passages, sentences = one_sentence_articles(texts, {"a": 0.7, "b": 0.5})
    assert extract(sentences, passages, question=q, max_sentences=2, threshold=0.25).abstained


def test_a_how_does_a_compare_with_b_question_is_split_into_its_two_sides() -> None:
    assert split_parts("How does Russia's trade with China last year compare with its 2023 trade with Vietnam?") == [
        "Russia's trade with China last year?", "its 2023 trade with Vietnam?"]
    assert split_parts("How does that compare with Vietnam's trade with China? (Russia-Vietnam, 2023)") == [
        "Russia-Vietnam, 2023?", "Vietnam's trade with China?"]
    one = "How does the combined economic output of the Group of Seven compare with that of the BRICS bloc?"
    assert split_parts(one) == [one]  # 'that of…' points back at the first side: one comparing sentence answers it


def test_a_lead_articles_sentence_that_answers_the_question_may_join_below_the_usual_floor() -> None:
    """'The new agreement replaces the … Treaty' scores 0.84 of the lead, under the 0.85 floor for supporting
    sentences; it answers 'which treaty' too, so it joins. A sentence of the same article that names no treaty fits
    far less."""
    from rag.answering.synthesize import extract, fit

    lead = "During his visit to Pyongyang, Putin signed a comprehensive strategic partnership agreement."
    answer = "The new agreement replaces the Friendship, Cooperation, and Good Neighborliness Treaty signed in 2000."
    other = "The agreement was signed in a lavish ceremony attended by officials."
    text = f"{lead} {answer} {other}"
    chunk = Chunk(chunk_id="a:0", doc_id="a", position=0, start=0, end=len(text), text=text)
    passages = {"a:0": Passage(chunk=chunk, meta=DocMeta(title="a"))}
    sentences, start = [], 0
    for sent, score in ((lead, 0.68), (answer, 0.57), (other, 0.56)):
        sentences.append(Sentence(key=("a", start, start + len(sent)), text=sent, chunk_id="a:0", score=score,
                                  context_score=score, own_score=score, backed=True))
        start += len(sent) + 1
    q = "Which earlier treaty between Moscow and Pyongyang was replaced by the new strategic partnership agreement?"
    draft = extract(sentences, passages, question=q, max_sentences=3, threshold=0.25)
    assert [c.quote for c in draft.citations][:2] == [lead, answer]
    degree = {s.text: fit(s, q) for s in sentences}  # the named treaty fits far better than the ceremony
    assert degree[answer] > 4 * degree[other]


def test_the_chunk_holding_the_best_sentence_leads_the_context() -> None:
    """A chunk ranked low by retrieval (a paraphrase) but holding the best-scoring sentence is taken first, so a tight
    token budget cannot leave it out."""
    from rag.answering.rerank import rerank, select_context
    from rag.answering.retrieve import Candidate

    def cand(cid: str, fused: float) -> Candidate:
        return Candidate(chunk=Chunk(chunk_id=cid, doc_id=cid, position=0, start=0, end=1, text=f"text {cid} " * 50),
                         fused=fused)

    pool = [cand("x", 1.0), cand("y", 0.95), cand("seed", 0.5)]
    scores = {"x": 0.43, "y": 0.40, "seed": 0.47}
    sents = [Sentence(key=(c, 0, 1), text="x", chunk_id=c, score=s) for c, s in scores.items()]
    ordered = rerank(pool, sents)
    assert ordered[0].chunk.chunk_id == "seed"
    chosen, _ = select_context(ordered, budget_tokens=120)
    assert [c.chunk.chunk_id for c in chosen][:1] == ["seed"]


def test_trade_between_other_parties_does_not_answer_a_between_question() -> None:
    from rag.answering.focus import same_pair

    q = "What is the value of bilateral trade between Russia and North Korea?"
    assert not same_pair("Bilateral trade between Russia and Vietnam amounted to $3.6 billion.", q)
    assert same_pair("Trade between North Korea and Russia grew.", q)
    us = "How large is trade between the United States and Vietnam?"
    assert same_pair("Trade between Russia and Vietnam was $3.6 billion, against $111 billion with the United States.",
                     us)


def test_a_between_rule_ignores_parties_described_rather_than_named() -> None:
    from rag.answering.focus import same_pair

    q = "What statement followed the talks between Putin and the Vietnamese leader?"
    assert same_pair("The talks between Vladimir Putin and Tho Lam resulted in a statement.", q)
