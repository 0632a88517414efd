"""One module per lesson (lessonNN.py), each registering that lesson's tasks with @task."""
