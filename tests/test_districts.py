"""One rule for a district typed by a person (campaign.districts): code or name, unknown or ambiguous."""

from __future__ import annotations

import pytest

from campaign.config import Province, load_campaign
from campaign.districts import DistrictError, resolve_district
from campaign.domain.admin_units import get_admin_units


@pytest.fixture(scope="module")
def campaign():
    return load_campaign()


@pytest.mark.parametrize("text", ["633", 633, "Chư Sê", "chu se", "H. Chư Sê", " 633 - Chư Sê "])
def test_a_district_by_code_or_name(campaign, text):
    unit = resolve_district(text, campaign)
    assert (unit.code, unit.name) == ("633", "Huyện Chư Sê")


@pytest.mark.parametrize("text", ["Ba Đình", "001", "nowhere", ""])
def test_an_unknown_district_names_the_text_and_the_province(campaign, text):
    with pytest.raises(DistrictError) as raised:
        resolve_district(text, campaign)
    assert str(raised.value) == f"unknown district {text!r} in province {campaign.province.name}"
    assert not raised.value.ambiguous and raised.value.candidates == ()


def test_a_district_of_the_province_the_campaign_leaves_out_is_unknown(campaign):
    fewer = campaign.model_copy(update={"province": campaign.province.model_copy(update={"districts": ["622"]})})
    assert resolve_district("622", fewer).code == "622"
    with pytest.raises(DistrictError, match="unknown district '633' in province"):
        resolve_district("633", fewer)


def test_an_ambiguous_name_lists_every_district_it_could_be(campaign):
    # Thành phố Cao Lãnh and Huyện Cao Lãnh (Đồng Tháp, 87): the name alone is both
    units = get_admin_units()
    city, district = (units.resolve_district(t, "87").unit for t in ("TP Cao Lãnh", "Huyện Cao Lãnh"))
    dong_thap = campaign.model_copy(update={"province": Province(code="87", name="Đồng Tháp",
                                                                 districts=[city.code, district.code])})
    with pytest.raises(DistrictError) as raised:
        resolve_district("Cao Lãnh", dong_thap)
    first, second = sorted((city, district), key=lambda u: u.code)
    assert str(raised.value) == (f"district 'Cao Lãnh' is ambiguous: {first.code} {first.name}, "
                                 f"{second.code} {second.name}")
    assert raised.value.ambiguous and {u.code for u in raised.value.candidates} == {city.code, district.code}
    assert resolve_district("Huyện Cao Lãnh", dong_thap).code == district.code
