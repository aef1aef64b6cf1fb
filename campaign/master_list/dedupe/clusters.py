"""From scored pairs to people: rules outside the model, reviewers' decisions, constrained clustering.

Pure functions on DataFrames (no database, no Splink), so every rule is tested on a handful of rows.

- Two different valid CCCDs never merge: such a pair is dropped, and no chain of other pairs may put the
  two records in one cluster either (cannot-link, enforced while clustering).
- The given name carries the evidence that separates twins and siblings (same birth date, family,
  address and phone): when it speaks against the match, the pair is never merged automatically; it
  goes to review if the rest of the evidence is strong.
- A reviewer's "same person" joins the two records whatever the model says; "different people"
  separates them like two CCCDs do. Decisions are keyed by record fingerprints, so they survive
  re-uploads and re-runs, and the latest decision that is not reversed applies.
- Pairs between the review and match thresholds go to review instead of being merged; so does a strong
  pair refused because it would join two records that must stay apart (the chain is ambiguous).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Thresholds:
    match: float = 0.99   # at or above: the same person
    review: float = 0.5   # at or above (and below `match`): a reviewer decides


def pair_key(fingerprint_a: str, fingerprint_b: str) -> str:
    """A pair's stable name: its two fingerprints in order (the same after a re-upload of either row)."""
    a, b = sorted((fingerprint_a, fingerprint_b))
    return f"{a[:10]}{b[:10]}"


@dataclass
class Clustering:
    cluster: np.ndarray          # per record: its cluster number (0..k-1), in record order
    review: pd.DataFrame         # record_id_l, record_id_r, match_probability, reason
    merged_pairs: int            # edges used
    refused_pairs: int           # strong edges refused by a cannot-link


class _Clusters:
    """Union-find whose unions may be refused: each root knows its members' CCCDs and cannot-links."""

    def __init__(self, n: int, cccd: np.ndarray, apart: dict[int, set[int]]) -> None:
        self.parent = np.arange(n)
        self.members: dict[int, set[int]] = {}
        self.cccds: dict[int, set[str]] = {}
        self.cccd = cccd
        self.apart = apart

    def find(self, i: int) -> int:
        root = i
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[i] != root:  # path compression
            self.parent[i], i = root, self.parent[i]
        return int(root)

    def _members(self, r: int) -> set[int]:
        return self.members.get(r, {r})

    def _cccds(self, r: int) -> set[str]:
        if r in self.cccds:
            return self.cccds[r]
        value = self.cccd[r]
        return {value} if value is not None else set()

    def union(self, a: int, b: int) -> bool | None:
        """Join the clusters of `a` and `b`: True if joined, None if already one, False if refused."""
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return None
        ca, cb = self._cccds(ra), self._cccds(rb)
        if ca and cb and ca != cb:
            return False
        ma, mb = self._members(ra), self._members(rb)
        small, large = (ma, mb) if len(ma) <= len(mb) else (mb, ma)
        if any(self.apart.get(m, set()) & large for m in small):
            return False
        if len(ma) < len(mb):
            ra, rb, ma, mb = rb, ra, mb, ma
        self.parent[rb] = ra
        self.members[ra] = ma | mb
        self.members.pop(rb, None)
        self.cccds[ra] = ca | cb
        self.cccds.pop(rb, None)
        return True


def active_decisions(decisions: pd.DataFrame) -> pd.DataFrame:
    """The decision in force per pair: the latest not reversed (`pair_key`, `decision`, fingerprints)."""
    if decisions.empty:
        return decisions
    live = decisions[decisions["reversed_at"].isna()].sort_values(["decided_at", "id"])
    return live.drop_duplicates("pair_key", keep="last")


def cluster(records: pd.DataFrame, pairs: pd.DataFrame, decisions: pd.DataFrame,
            thresholds: Thresholds = Thresholds()) -> Clustering:
    """`records`: record_id (0..n-1 in order), cccd, fingerprint. `pairs`: record_id_l, record_id_r,
    match_probability, given_disagrees. `decisions`: the output of `active_decisions`."""
    n = len(records)
    cccd = records["cccd"].to_numpy(dtype=object)
    cccd = np.where(pd.isna(cccd), None, cccd)
    fp = records["fingerprint"].to_numpy(dtype=object)
    p = pairs.copy()

    # Reviewers' decisions, mapped onto today's records through the fingerprints.
    same_edges: list[tuple[int, int]] = []
    apart: dict[int, set[int]] = {}
    if not decisions.empty:
        by_fp = pd.Series(np.arange(n), index=fp)
        by_fp = by_fp[~by_fp.index.duplicated()]
        for a_fp, b_fp, decision in zip(decisions["fingerprint_a"], decisions["fingerprint_b"],
                                        decisions["decision"], strict=True):
            if a_fp not in by_fp.index or b_fp not in by_fp.index:
                continue  # one of the rows is no longer in any current list
            a, b = int(by_fp[a_fp]), int(by_fp[b_fp])
            if decision == "same":
                same_edges.append((a, b))
            else:
                apart.setdefault(a, set()).add(b)
                apart.setdefault(b, set()).add(a)
    if not p.empty:
        left, right = p["record_id_l"].to_numpy(), p["record_id_r"].to_numpy()
        both = (pd.notna(cccd[left]) & pd.notna(cccd[right]))
        conflict = both & (cccd[left] != cccd[right])
        decided = np.array([(a in apart and b in apart[a]) for a, b in zip(left, right, strict=True)], dtype=bool) \
            if apart else np.zeros(len(p), dtype=bool)
        p = p[~conflict & ~decided]

    strong = p["match_probability"].ge(thresholds.match) & ~p["given_disagrees"].astype(bool)
    edges = p[strong].sort_values("match_probability", ascending=False, kind="stable")
    uf = _Clusters(n, cccd, apart)
    for a, b in same_edges:  # decisions first: a reviewer outranks the model
        uf.union(a, b)
    refused = []
    merged = 0
    for a, b, prob in zip(edges["record_id_l"].to_numpy(), edges["record_id_r"].to_numpy(),
                          edges["match_probability"].to_numpy(), strict=True):
        done = uf.union(int(a), int(b))
        if done is False:
            refused.append((int(a), int(b), float(prob), "conflict"))
        elif done:
            merged += 1

    band = p[~strong & p["match_probability"].ge(thresholds.review)]
    review = pd.DataFrame({
        "record_id_l": band["record_id_l"].to_numpy(dtype=np.int64),
        "record_id_r": band["record_id_r"].to_numpy(dtype=np.int64),
        "match_probability": band["match_probability"].to_numpy(dtype=float),
        "reason": np.where(band["given_disagrees"].astype(bool).to_numpy()
                           & band["match_probability"].ge(thresholds.match).to_numpy(), "given_name", "probability"),
    })
    if refused:
        review = pd.concat([review, pd.DataFrame(refused, columns=list(review.columns))], ignore_index=True)

    roots = np.fromiter((uf.find(i) for i in range(n)), dtype=np.int64, count=n)
    labels = pd.factorize(roots)[0]
    if not review.empty:  # already one person (through other pairs or a decision): nothing to review
        same = labels[review["record_id_l"].to_numpy()] == labels[review["record_id_r"].to_numpy()]
        review = review[~same].reset_index(drop=True)
    return Clustering(cluster=labels, review=review, merged_pairs=merged, refused_pairs=len(refused))


def assign_person_ids(records: pd.DataFrame, labels: np.ndarray, known: pd.DataFrame, next_number: int,
                      prefix: str = "P") -> tuple[np.ndarray, pd.DataFrame, int]:
    """Stable person ids. `known`: earlier (key, person_id) with key = a record's fingerprint, or its
    soft key (district, folded name, birth date, sex) for a row corrected in a re-upload. A cluster
    takes the id most of its records had (exact keys first), the oldest on a tie; an id goes to one
    cluster only (the one holding most of its records; a split keeps it on the larger part); a cluster
    with none gets a new id. Returns per-record ids, the (key, person_id, kind) rows to remember, and the
    next free number."""
    n = len(records)
    known_ids = known.drop_duplicates("key").set_index("key")["person_id"] if not known.empty \
        else pd.Series(dtype=object)
    fp = records["fingerprint"].to_numpy(dtype=object)
    soft = records["soft_key"].to_numpy(dtype=object)
    # vectorised look-ups (a million records: one hash join each, no Python loop)
    exact = known_ids.reindex(fp).to_numpy(dtype=object)
    by_soft = known_ids.reindex(soft).to_numpy(dtype=object)
    frame = pd.DataFrame({"cluster": labels, "exact": exact, "soft": by_soft})
    votes = []
    for col, weight in (("exact", 2), ("soft", 1)):
        v = frame.loc[frame[col].notna(), ["cluster", col]].rename(columns={col: "person_id"})
        v["weight"] = weight
        votes.append(v)
    vote = pd.concat(votes, ignore_index=True)
    chosen = pd.Series(dtype=object)
    if not vote.empty:
        score = vote.groupby(["cluster", "person_id"], as_index=False)["weight"].sum()
        # each id to the cluster with the highest score; then each cluster its best remaining id
        score = score.sort_values(["weight", "person_id"], ascending=[False, True], kind="stable")
        score = score.drop_duplicates("person_id", keep="first")
        score = score.sort_values(["cluster", "weight", "person_id"], ascending=[True, False, True], kind="stable")
        score = score.drop_duplicates("cluster", keep="first")
        chosen = score.set_index("cluster")["person_id"]
    k = int(labels.max()) + 1 if n else 0
    ids = chosen.reindex(np.arange(k)).to_numpy(dtype=object, copy=True)
    fresh = pd.isna(ids)
    ids[fresh] = [f"{prefix}{next_number + i:08d}" for i in range(int(fresh.sum()))]
    next_number += int(fresh.sum())
    person = ids[labels] if n else np.array([], dtype=object)
    remember = pd.concat([
        pd.DataFrame({"key": fp, "person_id": person, "kind": "exact"}),
        pd.DataFrame({"key": soft, "person_id": person, "kind": "soft"}),
    ], ignore_index=True).drop_duplicates("key", keep="first")
    return person, remember, next_number
