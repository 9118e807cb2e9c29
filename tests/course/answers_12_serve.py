"""Wrong answers and cheats for lesson 12 (Serve), registered in course_answers.ANSWERS.

"local": the value is computed in the notebook or in the wrong deployment instead of by the
replicas the exercise asks for; "hard-coded": a fixed answer; "stand-in": another deployment
of the same name that skips the work; "wrong"/"unchanged"/"no cap":
the deployment runs but with the wrong result or settings."""

from __future__ import annotations

_DEPLOY = (
    "def deploy_doubler():\n"
    "    return serve.run(Doubler.bind(), name='doubler', route_prefix=None)\n"
)
_BUILD = "def build_pipeline():\n    return Pipeline.bind(Cleaner.bind(), WordCounter.bind())\n"

SERVE_ANSWERS: dict[str, list[tuple[str, str, str]]] = {
    "12_serve:deploy": [
        (
            "wrong",
            "@serve.deployment(num_replicas=2)\nclass Doubler:\n"
            "    def __call__(self, x):\n        return x + 1\n\n" + _DEPLOY,
            "expected each number doubled",
        ),
        (
            "local",
            "class _Done:\n    def __init__(self, x):\n        self.x = x\n\n"
            "    def result(self, timeout_s=None, **kwargs):\n        return 2 * self.x\n\n"
            "class _Local:\n    def remote(self, x):\n        return _Done(x)\n\n"
            "def deploy_doubler():\n    return _Local()\n",
            "no request reached a Doubler replica",
        ),
        (
            "hard-coded",
            "@serve.deployment(num_replicas=2)\nclass Doubler:\n"
            "    def __call__(self, x):\n        return 42\n\n" + _DEPLOY,
            "expected each number doubled",
        ),
        (
            "one replica",
            "@serve.deployment\nclass Doubler:\n"
            "    def __call__(self, x):\n        return 2 * x\n\n" + _DEPLOY,
            "expected 2 replicas",
        ),
    ],
    "12_serve:compose": [
        (
            "wrong",
            "@serve.deployment\nclass Pipeline:\n"
            "    def __init__(self, cleaner, counter):\n"
            "        self.cleaner, self.counter = cleaner, counter\n\n"
            "    async def __call__(self, text):\n"
            "        return await self.counter.count.remote(text)\n\n" + _BUILD,
            "clean the text with Cleaner first",
        ),
        (
            "local",
            "@serve.deployment\nclass Pipeline:\n"
            "    def __init__(self, cleaner, counter):\n        pass\n\n"
            "    def __call__(self, text):\n"
            "        return len({w.strip('.,!?').lower() for w in text.split()})\n\n" + _BUILD,
            "must call them through the handles",
        ),
        (
            "hard-coded",
            "@serve.deployment\nclass Pipeline:\n"
            "    def __init__(self, cleaner, counter):\n        pass\n\n"
            "    def __call__(self, text):\n        return 3\n\n" + _BUILD,
            "the pipeline returned",
        ),
    ],
    "12_serve:scale": [
        (
            "wrong",
            "def scale_up(deployment):\n"
            "    return deployment.options(num_replicas=2, max_ongoing_requests=2)\n",
            "expected 3 replicas",
        ),
        ("unchanged", "def scale_up(deployment):\n    return deployment\n", "expected 3 replicas"),
        (
            "no cap",
            "def scale_up(deployment):\n    return deployment.options(num_replicas=3)\n",
            "expected at most 2 at once",
        ),
        (
            "stand-in",  # a deployment of the same name that skips Slow's work
            "def scale_up(deployment):\n"
            "    @serve.deployment(name='Slow', num_replicas=3, max_ongoing_requests=2)\n"
            "    class Fast:\n"
            "        def __call__(self, x):\n"
            "            return x\n\n"
            "    return Fast\n",
            "expected all 3 busy together",
        ),
    ],
}
