"""The districts' communication activities: the directive's channels and messages first, then any
channel; two districts never carry the certificate look-up message."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

COMM_ACTIVITIES = {
    "loudspeaker": ["Phát thanh trên loa truyền thanh các thôn, làng", "Tiếp sóng bản tin tiêm chủng trên loa xã"],
    "commune_radio": ["Bản tin tiêm chủng trên đài truyền thanh xã", "Chuyên mục tiêm chủng trên đài truyền thanh xã"],
    "press": ["Đăng tin trên Báo Gia Lai", "Phóng sự trên Đài Phát thanh - Truyền hình tỉnh"],
    "social_media": ["Đăng bài hướng dẫn trên trang Facebook của Trung tâm Y tế", "Chia sẻ hướng dẫn qua nhóm Zalo thôn, tổ"],
    "sms": ["Nhắn tin SMS đến thuê bao trên địa bàn"],
    "leaflet": ["Phát tờ rơi tại chợ và trạm y tế", "Treo băng rôn tại trung tâm xã"],
    "meeting": ["Họp dân tại nhà văn hóa thôn", "Tuyên truyền trực tiếp đến từng hộ gia đình"],
}


def draw_communication(rng: np.random.Generator, districts: pd.DataFrame, communes: pd.DataFrame,
                   days: list[dt.date]) -> tuple[pd.DataFrame, list[str]]:
    rows = []
    missing_cert = list(rng.choice(districts["code"].to_numpy(), 2, replace=False))
    channels = list(COMM_ACTIVITIES)
    for d in districts.itertuples():
        k = int(rng.integers(6, 13))
        dcomm = communes[communes.district_code == d.code]
        # the directive's channels first (section 3: the grassroots information system, "hệ thống thông tin cơ
        # sở"; sections 1-2: the press) with its three messages, then any channel (social media, SMS... are
        # allowed, not required); a district of `missing_cert` never mentions the certificate look-up
        for j in range(k):
            if j >= 3:
                ch = channels[int(rng.integers(0, len(channels)))]
            else:
                ch = [["loudspeaker", "commune_radio"][int(d.code) % 2], ["commune_radio", "press"][int(d.code) % 3 == 0],
                      ["loudspeaker", "press"][int(d.code) % 4 == 1]][j]
            acts = COMM_ACTIVITIES[ch]
            if d.code in missing_cert:
                msg = ["how_to_register", "follow_news", "other"][int(rng.random() < 0.2) * 2 if j != 1 else 1]
            else:
                msg = ["how_to_register", "follow_news", "certificate_lookup", "both", "all_three", "other"][
                    int(rng.choice(6, p=[0.3, 0.15, 0.15, 0.2, 0.1, 0.1]))]
                if j < 3 and not (j == 0 and msg == "all_three"):   # one row may carry the three messages
                    msg = ["how_to_register", "follow_news", "certificate_lookup"][j]
            date = days[0] - dt.timedelta(days=int(rng.integers(2, 15)))
            pick = dcomm.iloc[int(rng.integers(0, len(dcomm)))]
            commune, c_short, c_code = ("", "", "") if ch in ("press", "sms") else (pick["name"], pick["short_name"], pick["code"])
            reach = int(rng.integers(200, 5000)) if ch != "press" else int(rng.integers(5000, 60000))
            rows.append({"district_code": d.code, "activity": acts[int(rng.integers(0, len(acts)))], "channel": ch,
                         "message": msg, "activity_date": np.datetime64(date), "commune_name": commune, "reach": reach,
                         "_commune_short": c_short, "_commune_code": c_code, "_anomaly": "", "_note": ""})
    comm = pd.DataFrame(rows)
    # Two activities of the same channel on the same day would collide on the natural key: shift them.
    while True:
        dup = comm.duplicated(["district_code", "activity", "channel", "activity_date"]).to_numpy()
        if not dup.any():
            break
        comm.loc[dup, "activity_date"] = comm.loc[dup, "activity_date"] - np.timedelta64(1, "D")
    comm = comm.sort_values(["district_code", "activity_date"], kind="stable").reset_index(drop=True)
    return comm, sorted(str(x) for x in missing_cert)
