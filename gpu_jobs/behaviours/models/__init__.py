"""Small learned models behind the behaviour rules, with their weights as plain JSON next to them.

- `evaluator`: `WindowModel` (loads a JSON model: logistic, gradient-boosted or histogram
  gradient-boosted trees, no pickle)
  and the `WindowScorer` protocol a stronger model can implement to replace it.
- `fight`: `FIGHT_FEATURES` over two-second windows of tracks (optical flow in person boxes and
  over the whole frame, pose, boxes, pairs), `fight_windows`, `load_fight_model` (fight.json, trained by
  bench/train_fight_model.py).
"""
