"""One module per lesson, `l<stem>.py` (e.g. `l01_tasks.py`), each with `EXERCISES`: a list of
`rayground.course.exercise.Exercise`. The notebook `notebooks/<stem>.ipynb` holds the matching
exercise cells (tag `exercise`, metadata `{"rayground": {"exercise_id": "<stem>:<id>"}}`)."""
