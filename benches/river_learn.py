#!/usr/bin/env python3
"""River's learn_one throughput on the same data as benches/learn.rs (called by it).

Usage: river_learn.py ELEC2_CSV KDD_CSV
Prints one JSON object: learner name -> records learnt per second of the thread's CPU time
(time.thread_time; best of 3 passes over the
data, each with a fresh model; reading the CSV is not timed). Needs `pip install river==0.26.1`.
"""

import csv
import gzip
import json
import sys
import time

from river import anomaly, compose, linear_model, multiclass, naive_bayes, optim, preprocessing, tree


def read(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt", newline="") as f:
        return list(csv.DictReader(f))


def main():
    elec_rows = read(sys.argv[1])
    features = [c for c in elec_rows[0] if c != "class"]
    index = {}
    elec = [({c: float(r[c]) for c in features}, index.setdefault(r["class"], len(index))) for r in elec_rows]
    # KDD Cup 99 with or without its header line: fields by position (service 2; duration,
    # src_bytes, dst_bytes 0, 4, 5).
    opener = gzip.open if sys.argv[2].endswith(".gz") else open
    with opener(sys.argv[2], "rt", newline="") as f:
        kdd = [r for r in csv.reader(f) if len(r) > 5 and r[2] == "http"]
    http = [{"duration": float(r[0]), "src_bytes": float(r[4]), "dst_bytes": float(r[5])} for r in kdd]
    learners = {
        "softmax (scaled)": lambda: compose.Pipeline(
            preprocessing.StandardScaler(), linear_model.SoftmaxRegression(optimizer=optim.SGD(0.01))
        ),
        "gaussian nb": naive_bayes.GaussianNB,
        "multinomial nb": naive_bayes.MultinomialNB,
        "hoeffding tree": tree.HoeffdingTreeClassifier,
        "pa-i (scaled)": lambda: compose.Pipeline(
            preprocessing.StandardScaler(), multiclass.OneVsRestClassifier(linear_model.PAClassifier())
        ),
        "standard scaler": preprocessing.StandardScaler,
    }
    out = {}
    for name, make in learners.items():
        best = float("inf")
        for _ in range(3):
            model = make()
            start = time.thread_time()
            if name == "standard scaler":
                for x, _ in elec:
                    model.learn_one(x)
            else:
                for x, y in elec:
                    model.learn_one(x, y)
            best = min(best, time.thread_time() - start)
        out[name] = len(elec) / best
    best = float("inf")
    for _ in range(3):
        model = compose.Pipeline(preprocessing.MinMaxScaler(), anomaly.HalfSpaceTrees(seed=0))
        start = time.thread_time()
        for x in http:
            model.learn_one(x)
        best = min(best, time.thread_time() - start)
    out["half-space trees (min-max)"] = len(http) / best
    out["records"] = {"elec2": len(elec), "kdd http": len(http)}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
