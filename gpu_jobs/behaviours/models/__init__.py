"""Small learned models behind the behaviour rules, with their weights as plain JSON next to them.

- `evaluator`: `WindowModel` (loads a JSON model: logistic or gradient-boosted trees, no pickle)
  and the `WindowScorer` protocol a stronger model can implement to replace it.
- `fight`: `FIGHT_FEATURES` over two-second windows of tracks (optical flow in person boxes,
  pose, boxes, pairs), `fight_windows`, `load_fight_model` (fight.json, trained by
  bench/train_fight_model.py).
"""
