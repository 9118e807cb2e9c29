"""A stand-in for `transformers.pipeline("sentiment-analysis")` so seed 001's Serve code runs
unchanged without downloading a model: a small word-list classifier with the same output shape
([{"label": "POSITIVE"|"NEGATIVE", "score": float}])."""

from __future__ import annotations

_POSITIVE = {"excellent", "great", "good", "love", "amazing", "fast", "happy", "nice"}
_NEGATIVE = {"terrible", "bad", "awful", "slow", "hate", "broken", "sad", "worst"}


class _SentimentClassifier:
    def __call__(self, text: str) -> list[dict]:
        words = [w.strip(".,!?").lower() for w in text.split()]
        pos = sum(w in _POSITIVE for w in words)
        neg = sum(w in _NEGATIVE for w in words)
        label = "NEGATIVE" if neg > pos else "POSITIVE"
        score = (max(pos, neg) + 1) / (pos + neg + 2)
        return [{"label": label, "score": round(score, 4)}]


def pipeline(task: str = "sentiment-analysis", model: str | None = None) -> _SentimentClassifier:
    if task != "sentiment-analysis":
        raise ValueError(f"this stand-in only does sentiment-analysis, not {task!r}")
    return _SentimentClassifier()
