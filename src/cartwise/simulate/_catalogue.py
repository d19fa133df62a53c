"""The demo shop's category tree, brands and product texts.

Everything here is fixed vocabulary; the random choices are made by the caller's generator so a
seed fixes the catalogue.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Leaf:
    """A leaf of the 3-level category tree, with what its products are called and cost."""

    path: str
    nouns: tuple[str, ...]
    median_price: float
    consumable: bool = False

    @property
    def top(self) -> str:
        return self.path.split(" > ")[0]

    @property
    def name(self) -> str:
        return self.path.split(" > ")[-1]


def _leaves(top: str, mid: str, rows: list[tuple[str, tuple[str, ...], float, bool]]) -> list[Leaf]:
    return [Leaf(f"{top} > {mid} > {name}", nouns, price, cons) for name, nouns, price, cons in rows]


LEAVES: tuple[Leaf, ...] = tuple(
    _leaves(
        "Home",
        "Kitchen",
        [
            ("Knives", ("Chef's Knife", "Paring Knife", "Bread Knife", "Santoku Knife"), 45, False),
            ("Cutting Boards", ("Cutting Board", "Chopping Block", "Serving Board"), 30, False),
            ("Cookware", ("Frying Pan", "Saucepan", "Casserole Dish", "Wok"), 60, False),
            ("Mugs", ("Mug", "Espresso Cup", "Travel Mug"), 14, False),
        ],
    )
    + _leaves(
        "Home",
        "Bedding",
        [
            ("Pillows", ("Pillow", "Cushion Insert"), 35, False),
            ("Duvet Covers", ("Duvet Cover", "Bedding Set"), 55, False),
            ("Sheets", ("Fitted Sheet", "Flat Sheet", "Pillowcase Pair"), 30, False),
        ],
    )
    + _leaves(
        "Home",
        "Decor",
        [
            ("Candles", ("Scented Candle", "Pillar Candle", "Tealight Set"), 18, True),
            ("Vases", ("Vase", "Bud Vase"), 28, False),
            ("Frames", ("Photo Frame", "Poster Frame"), 20, False),
        ],
    )
    + _leaves(
        "Beauty",
        "Skincare",
        [
            ("Moisturisers", ("Face Cream", "Day Moisturiser", "Night Cream"), 22, True),
            ("Cleansers", ("Gel Cleanser", "Micellar Water", "Cleansing Balm"), 15, True),
            ("Serums", ("Vitamin C Serum", "Hyaluronic Serum", "Retinol Serum"), 28, True),
        ],
    )
    + _leaves(
        "Beauty",
        "Hair",
        [
            ("Shampoo", ("Shampoo", "Dry Shampoo"), 9, True),
            ("Conditioner", ("Conditioner", "Hair Mask"), 10, True),
            ("Hair Tools", ("Hair Dryer", "Straightener", "Curling Wand"), 55, False),
        ],
    )
    + _leaves(
        "Grocery",
        "Coffee & Tea",
        [
            ("Coffee Beans", ("Coffee Beans", "Espresso Blend", "Ground Coffee"), 12, True),
            ("Tea", ("Green Tea", "Black Tea", "Herbal Tea"), 7, True),
        ],
    )
    + _leaves(
        "Grocery",
        "Pantry",
        [
            ("Olive Oil", ("Extra Virgin Olive Oil", "Olive Oil"), 11, True),
            ("Pasta", ("Spaghetti", "Penne", "Fusilli"), 4, True),
            ("Spices", ("Smoked Paprika", "Cumin", "Chilli Flakes", "Peppercorns"), 5, True),
        ],
    )
    + _leaves(
        "Grocery",
        "Snacks",
        [
            ("Chocolate", ("Dark Chocolate", "Milk Chocolate", "Truffles"), 6, True),
            ("Nuts", ("Roasted Almonds", "Cashews", "Trail Mix"), 7, True),
        ],
    )
    + _leaves(
        "Sports",
        "Fitness",
        [
            ("Yoga Mats", ("Yoga Mat", "Exercise Mat"), 35, False),
            ("Weights", ("Dumbbell Pair", "Kettlebell", "Resistance Bands"), 40, False),
            ("Supplements", ("Protein Powder", "Electrolyte Tabs", "Energy Bars"), 25, True),
        ],
    )
    + _leaves(
        "Sports",
        "Outdoor",
        [
            ("Backpacks", ("Daypack", "Hiking Backpack"), 70, False),
            ("Water Bottles", ("Water Bottle", "Insulated Flask"), 20, False),
        ],
    )
    + _leaves(
        "Sports",
        "Cycling",
        [
            ("Helmets", ("Cycling Helmet", "Commuter Helmet"), 60, False),
            ("Bike Lights", ("Front Light", "Rear Light", "Light Set"), 25, False),
        ],
    )
    + _leaves(
        "Electronics",
        "Audio",
        [
            ("Headphones", ("Wireless Headphones", "Earbuds", "Over-Ear Headphones"), 80, False),
            ("Speakers", ("Bluetooth Speaker", "Smart Speaker"), 70, False),
        ],
    )
    + _leaves(
        "Electronics",
        "Accessories",
        [
            ("Chargers", ("USB-C Charger", "Wireless Charger", "Power Bank"), 25, False),
            ("Cables", ("USB-C Cable", "Lightning Cable", "HDMI Cable"), 10, False),
            ("Phone Cases", ("Phone Case", "Screen Protector"), 15, False),
        ],
    )
    + _leaves(
        "Electronics",
        "Smart Home",
        [
            ("Smart Plugs", ("Smart Plug", "Smart Power Strip"), 20, False),
            ("Smart Bulbs", ("Smart Bulb", "LED Strip"), 18, False),
        ],
    )
    + _leaves(
        "Fashion",
        "Shoes",
        [
            ("Sneakers", ("Running Sneakers", "Canvas Sneakers", "Trainers"), 75, False),
            ("Boots", ("Chelsea Boots", "Hiking Boots"), 110, False),
            ("Socks", ("Socks 3-Pack", "Sport Socks"), 9, True),
        ],
    )
    + _leaves(
        "Fashion",
        "Accessories",
        [
            ("Bags", ("Tote Bag", "Crossbody Bag", "Backpack"), 50, False),
            ("Wallets", ("Wallet", "Card Holder"), 35, False),
            ("Scarves", ("Scarf", "Beanie"), 25, False),
        ],
    )
    + _leaves(
        "Fashion",
        "Clothing",
        [
            ("T-Shirts", ("T-Shirt", "Long-Sleeve Top"), 20, False),
            ("Sweaters", ("Sweater", "Hoodie", "Cardigan"), 50, False),
        ],
    )
    + _leaves(
        "Pets",
        "Dogs",
        [
            ("Dog Food", ("Dry Dog Food", "Wet Dog Food", "Puppy Food"), 30, True),
            ("Dog Treats", ("Dog Treats", "Dental Chews"), 8, True),
            ("Dog Toys", ("Chew Toy", "Rope Toy", "Ball Launcher"), 12, False),
            ("Leashes", ("Leash", "Harness", "Collar"), 22, False),
        ],
    )
    + _leaves(
        "Pets",
        "Cats",
        [
            ("Cat Food", ("Dry Cat Food", "Wet Cat Food"), 22, True),
            ("Cat Litter", ("Clumping Litter", "Natural Litter"), 14, True),
            ("Cat Toys", ("Feather Wand", "Scratching Post", "Catnip Mouse"), 12, False),
        ],
    )
    + _leaves(
        "Garden",
        "Tools",
        [
            ("Pruners", ("Pruning Shears", "Loppers"), 25, False),
            ("Hand Tools", ("Trowel", "Hand Fork", "Weeder"), 12, False),
        ],
    )
    + _leaves(
        "Garden",
        "Plants",
        [
            ("Seeds", ("Tomato Seeds", "Herb Seeds", "Wildflower Seeds"), 4, True),
            ("Plant Food", ("Plant Food", "Potting Compost"), 9, True),
            ("Planters", ("Planter", "Plant Pot Set"), 25, False),
        ],
    )
    + _leaves(
        "Garden",
        "Outdoor Living",
        [
            ("Lanterns", ("Solar Lantern", "String Lights"), 25, False),
            ("Cushions", ("Outdoor Cushion", "Seat Pad"), 30, False),
        ],
    )
)

TOPS: tuple[str, ...] = tuple(dict.fromkeys(leaf.top for leaf in LEAVES))

# Leaf pairs bought together (by leaf name); items get complements from the partner leaf.
COMPLEMENT_LEAVES: tuple[tuple[str, str], ...] = (
    ("Knives", "Cutting Boards"),
    ("Cookware", "Knives"),
    ("Coffee Beans", "Mugs"),
    ("Tea", "Mugs"),
    ("Pasta", "Olive Oil"),
    ("Olive Oil", "Spices"),
    ("Shampoo", "Conditioner"),
    ("Cleansers", "Moisturisers"),
    ("Serums", "Moisturisers"),
    ("Pillows", "Sheets"),
    ("Duvet Covers", "Sheets"),
    ("Vases", "Candles"),
    ("Frames", "Candles"),
    ("Yoga Mats", "Water Bottles"),
    ("Weights", "Supplements"),
    ("Backpacks", "Water Bottles"),
    ("Helmets", "Bike Lights"),
    ("Headphones", "Chargers"),
    ("Speakers", "Cables"),
    ("Chargers", "Cables"),
    ("Phone Cases", "Chargers"),
    ("Smart Plugs", "Smart Bulbs"),
    ("Sneakers", "Socks"),
    ("Boots", "Socks"),
    ("Bags", "Wallets"),
    ("Sweaters", "Scarves"),
    ("T-Shirts", "Socks"),
    ("Dog Food", "Dog Treats"),
    ("Leashes", "Dog Toys"),
    ("Cat Food", "Cat Litter"),
    ("Cat Toys", "Cat Food"),
    ("Planters", "Plant Food"),
    ("Seeds", "Hand Tools"),
    ("Pruners", "Hand Tools"),
    ("Lanterns", "Cushions"),
    ("Hair Tools", "Shampoo"),
    ("Chocolate", "Nuts"),
)

VARIANTS: dict[str, tuple[str, ...]] = {
    "Home": ("Oak", "Stainless Steel", "Ceramic", "Linen", "Slate", "White"),
    "Beauty": ("50 ml", "100 ml", "250 ml", "Travel Size"),
    "Grocery": ("250 g", "500 g", "1 kg", "Multipack"),
    "Sports": ("Blue", "Black", "Large", "Small"),
    "Electronics": ("Black", "White", "2-Pack", "Graphite"),
    "Fashion": ("Black", "Navy", "Olive", "Sand", "Grey"),
    "Pets": ("Small", "Medium", "Large", "Value Pack"),
    "Garden": ("Green", "Terracotta", "Large", "Small"),
}

ADJECTIVES: tuple[str, ...] = (
    "Classic",
    "Essential",
    "Premium",
    "Everyday",
    "Pro",
    "Eco",
    "Compact",
    "Signature",
    "Studio",
    "Heritage",
    "Urban",
    "Nordic",
)

BENEFITS: dict[str, tuple[str, ...]] = {
    "Home": (
        "Made to be used every day and built to last.",
        "Durable materials and a timeless design.",
        "Easy to clean and a pleasure to use.",
    ),
    "Beauty": (
        "Dermatologically tested and suitable for sensitive skin.",
        "Free from parabens, with a light scent.",
        "A salon favourite for daily care.",
    ),
    "Grocery": (
        "Sourced from small producers and packed fresh.",
        "Rich flavour for everyday cooking.",
        "A pantry staple our customers buy again and again.",
    ),
    "Sports": (
        "Light, tough and ready for every session.",
        "Tested by athletes in all weathers.",
        "Built for comfort on long days out.",
    ),
    "Electronics": (
        "Two-year warranty and fast charging support.",
        "Pairs in seconds with phones and laptops.",
        "Energy efficient and compact.",
    ),
    "Fashion": (
        "Soft, breathable fabric with a relaxed fit.",
        "Responsibly made and easy to care for.",
        "A wardrobe favourite that goes with everything.",
    ),
    "Pets": (
        "Vet approved and loved by pets.",
        "Made with natural ingredients and no fillers.",
        "Tough enough for playful pets.",
    ),
    "Garden": (
        "Weather resistant and made for outdoor use.",
        "Helps your garden thrive all season.",
        "Ergonomic and easy to handle.",
    ),
}

_BRAND_HEADS = (
    "Nord",
    "Alder",
    "Birch",
    "Cobalt",
    "Ember",
    "Fern",
    "Harbor",
    "Juniper",
    "Kestrel",
    "Lumen",
    "Maple",
    "Oak",
    "Pine",
    "Quill",
    "River",
    "Sable",
    "Thistle",
    "Vale",
    "Willow",
    "Wren",
)
_BRAND_TAILS = ("haven", "works", " & Co", "field", "craft", "ly", "wood", "stone", "line", "lab")

FIRST_NAMES = (
    "anna",
    "ben",
    "clara",
    "david",
    "emma",
    "felix",
    "grace",
    "henry",
    "ida",
    "jonas",
    "kate",
    "leo",
    "mia",
    "noah",
    "olivia",
    "paul",
    "rosa",
    "sam",
    "tara",
    "victor",
    "yara",
    "zoe",
    "omar",
    "lina",
)
LAST_NAMES = (
    "smith",
    "jones",
    "garcia",
    "muller",
    "rossi",
    "dubois",
    "novak",
    "kowalski",
    "jensen",
    "silva",
    "nakamura",
    "oconnor",
    "berg",
    "costa",
    "meyer",
    "laurent",
    "haddad",
    "patel",
    "kim",
    "lopez",
)


def brand_names(rng: np.random.Generator, n: int) -> list[str]:
    """`n` distinct brand names (n <= 200), drawn without replacement from the name parts."""
    combos = [h + t for h in _BRAND_HEADS for t in _BRAND_TAILS]
    picks = rng.choice(len(combos), size=min(n, len(combos)), replace=False)
    return [combos[i] for i in picks]
