"""Sample data per template (Cyrillic included), for previews, test prints and tests."""

SAMPLES: dict[str, dict] = {
    "cell-label": {"address": "A-01-02-03", "zone": "Зона A"},
    "sku-sticker": {
        "name": "Чай чёрный «Байкал» 100 г",
        "sku": "TEA-BKL-100",
        "ean13": "4607012345677",
        "lot": "L2405-07",
        "expiry": "31.12.2026",
    },
    "tote-label": {"code": "TOTE-0042", "zone": "Сборка, синий"},
    "badge": {"name": "Иванова Мария", "role": "Упаковщик", "code": "EMP-000123"},
    "shipping-label": {
        "carrier": "СДЭК",
        "tracking": "1234567890123",
        "sscc": "(00)146070123456789016",
        "order": "SO-2024-00017",
        "sender": {"name": "ООО «Склад-Сервис»", "address": "Москва, ул. Складская, д. 5"},
        "recipient": {
            "name": "Петров Пётр Петрович",
            "address": ["г. Санкт-Петербург,", "Невский пр., д. 28, кв. 7", "190000"],
            "phone": "+7 921 000-00-00",
        },
        "weight_kg": 1.25,
        "parcel": 1,
        "parcels": 2,
    },
}
# Variants that exercise the other symbologies.
SAMPLE_VARIANTS: dict[str, tuple[str, dict]] = {
    "cell-label-datamatrix": ("cell-label", {"address": "B-12-03-01", "symbology": "datamatrix"}),
    "sku-sticker-code128": ("sku-sticker", {"name": "Перчатки нитриловые, M", "sku": "GLV-NTR-M"}),
}


def sample(template: str) -> dict:
    return SAMPLES[template]
