"""The built-in message templates: `NAME.subject`, `NAME.html` and `NAME.txt` for each.

Context every template gets: `customer` (user_id, email, country), `items` (the cart, viewed,
bought or running-out items: item_id, title, price, and url when the catalogue has one), `recommendations` (same fields),
`shop_url`, `unsubscribe_url`, and `link(url)`, which turns a URL into a tracked click link.
"""

from __future__ import annotations

# An item without a `url` (a catalogue with no `url` attribute) is shown without a link.
_ITEMS_HTML = """{% for item in ITEMS %}<tr><td>{% if item.url is defined %}<a href="{{ link(item.url) }}">\
{{ item.title }}</a>{% else %}{{ item.title }}{% endif %}</td>\
<td>{{ "%.2f"|format(item.price) }}</td></tr>
{% endfor %}"""
_ITEMS_TEXT = """{% for item in ITEMS %}- {{ item.title }} ({{ "%.2f"|format(item.price) }})\
{% if item.url is defined %}: {{ link(item.url) }}{% endif %}
{% endfor %}"""


def _html(intro: str, lists: tuple[tuple[str, str], ...]) -> str:
    body = f"<p>{intro}</p>\n"
    for heading, var in lists:
        body += (
            f"{{% if {var} %}}<h2>{heading}</h2>\n<table>\n"
            + _ITEMS_HTML.replace("ITEMS", var)
            + "</table>{% endif %}\n"
        )
    return (
        "<html><body>\n"
        + body
        + '<p><a href="{{ link(shop_url) }}">Visit the shop</a></p>\n'
        + '<p style="font-size:small"><a href="{{ unsubscribe_url }}">Unsubscribe</a></p>\n'
        + "</body></html>\n"
    )


def _text(intro: str, lists: tuple[tuple[str, str], ...]) -> str:
    body = intro + "\n\n"
    for heading, var in lists:
        body += f"{{% if {var} %}}{heading}:\n" + _ITEMS_TEXT.replace("ITEMS", var) + "\n{% endif %}"
    return body + "Visit the shop: {{ link(shop_url) }}\n\nUnsubscribe: {{ unsubscribe_url }}\n"


_RECS = ("You may also like", "recommendations")
_SPECS: dict[str, tuple[str, str, tuple[tuple[str, str], ...]]] = {
    "abandoned_cart": (
        "You left something in your cart",
        "Your cart is waiting for you.",
        (("In your cart", "items"), _RECS),
    ),
    "browse_abandonment": (
        "Still thinking it over?",
        "Here is what you were looking at.",
        (("You looked at", "items"), _RECS),
    ),
    "post_purchase": (
        "Thank you for your order",
        "Thank you for your order. Customers who bought the same also bought these.",
        (("You bought", "items"), ("Goes well with it", "recommendations")),
    ),
    "win_back": (
        "We miss you",
        "It has been a while. Here is what is new for you.",
        (_RECS,),
    ),
    "replenishment": (
        "Time to restock?",
        "By our reckoning you may be running out soon.",
        (("Running low", "items"), _RECS),
    ),
    "welcome": (
        "Welcome",
        "Welcome to the shop; we are glad you are here.",
        (("To start with", "recommendations"),),
    ),
    "newsletter": (
        "Picked for you this week",
        "This week's picks, chosen for you.",
        (("Picked for you", "recommendations"),),
    ),
}

BUILTIN_TEMPLATES: dict[str, str] = {}
for _name, (_subject, _intro, _lists) in _SPECS.items():
    BUILTIN_TEMPLATES[f"{_name}.subject"] = _subject
    BUILTIN_TEMPLATES[f"{_name}.html"] = _html(_intro, _lists)
    BUILTIN_TEMPLATES[f"{_name}.txt"] = _text(_intro, _lists)

TEMPLATE_NAMES: tuple[str, ...] = tuple(_SPECS)
