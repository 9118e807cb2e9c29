# serve_model.py — Deploy ML models as scalable HTTP endpoints
# Seed 001's first Serve example, unchanged but for the import (`from ray import serve`).
# ruff: noqa
from rayground import serve
from starlette.requests import Request


@serve.deployment(num_replicas=2, ray_actor_options={"num_gpus": 0.5})
class SentimentService:
    def __init__(self):
        from transformers import pipeline

        self.classifier = pipeline("sentiment-analysis")

    async def __call__(self, request: Request) -> dict:
        body = await request.json()
        text = body.get("text", "")
        result = self.classifier(text)[0]
        return {"label": result["label"], "score": result["score"]}


app = SentimentService.bind()
serve.run(app, host="0.0.0.0", port=8000)
