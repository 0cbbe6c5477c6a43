"""Apple Podcasts' rules a show must meet: its category list, artwork (size, shape, colour, format) and the length
of an episode description."""
from __future__ import annotations

import difflib
from pathlib import Path

from pipeline.errors import Problem

ARTWORK_MIN, ARTWORK_MAX = 1400, 3000  # pixels a side
DESCRIPTION_LIMIT = 4000  # characters Apple Podcasts takes in an episode description

# Apple Podcasts categories (parent -> subcategories), as Apple lists them for podcast:category / itunes:category.
APPLE_CATEGORIES: dict[str, tuple[str, ...]] = {
    "Arts": ("Books", "Design", "Fashion & Beauty", "Food", "Performing Arts", "Visual Arts"),
    "Business": ("Careers", "Entrepreneurship", "Investing", "Management", "Marketing", "Non-Profit"),
    "Comedy": ("Comedy Interviews", "Improv", "Stand-Up"),
    "Education": ("Courses", "How To", "Language Learning", "Self-Improvement"),
    "Fiction": ("Comedy Fiction", "Drama", "Science Fiction"),
    "Government": (),
    "History": (),
    "Health & Fitness": ("Alternative Health", "Fitness", "Medicine", "Mental Health", "Nutrition", "Sexuality"),
    "Kids & Family": ("Education for Kids", "Parenting", "Pets & Animals", "Stories for Kids"),
    "Leisure": ("Animation & Manga", "Automotive", "Aviation", "Crafts", "Games", "Hobbies", "Home & Garden",
                "Video Games"),
    "Music": ("Music Commentary", "Music History", "Music Interviews"),
    "News": ("Business News", "Daily News", "Entertainment News", "News Commentary", "Politics", "Sports News",
             "Tech News"),
    "Religion & Spirituality": ("Buddhism", "Christianity", "Hinduism", "Islam", "Judaism", "Religion",
                                "Spirituality"),
    "Science": ("Astronomy", "Chemistry", "Earth Sciences", "Life Sciences", "Mathematics", "Natural Sciences",
                "Nature", "Physics", "Social Sciences"),
    "Society & Culture": ("Documentary", "Personal Journals", "Philosophy", "Places & Travel", "Relationships"),
    "Sports": ("Baseball", "Basketball", "Cricket", "Fantasy Sports", "Football", "Golf", "Hockey", "Rugby",
               "Running", "Soccer", "Swimming", "Tennis", "Volleyball", "Wilderness", "Wrestling"),
    "Technology": (),
    "True Crime": (),
    "TV & Film": ("After Shows", "Film History", "Film Interviews", "Film Reviews", "TV Reviews"),
}


def parse_category(text: str) -> tuple[str, str | None]:
    """``"Health & Fitness > Mental Health"`` -> ("Health & Fitness", "Mental Health"), checked against Apple's list.

    Raises ValueError with a suggestion when the category or subcategory is not one of Apple's.
    """
    parts = [p.strip() for p in str(text).split(">")]
    if len(parts) > 2 or not all(parts):
        raise ValueError(f"{text!r}: use 'Category' or 'Category > Subcategory'")
    parent = parts[0]
    sub = parts[1] if len(parts) == 2 else None
    if parent not in APPLE_CATEGORIES:
        # A subcategory given alone: name its parent.
        owners = [p for p, subs in APPLE_CATEGORIES.items() if parent in subs]
        if owners and sub is None:
            raise ValueError(f"{text!r} is a subcategory: write '{owners[0]} > {parent}'")
        close = difflib.get_close_matches(parent, list(APPLE_CATEGORIES), n=1, cutoff=0.5)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise ValueError(f"{parent!r} is not an Apple Podcasts category{hint}")
    if sub is not None and sub not in APPLE_CATEGORIES[parent]:
        known = APPLE_CATEGORIES[parent]
        close = difflib.get_close_matches(sub, list(known), n=1, cutoff=0.5)
        hint = f" (did you mean '{close[0]}'?)" if close else (
            f" (known: {', '.join(known)})" if known else f" ({parent} has no subcategories)")
        raise ValueError(f"{sub!r} is not a subcategory of {parent!r}{hint}")
    return parent, sub


def category_problems(categories: list[str]) -> list[str]:
    """Every problem with a show's categories (empty when they are all Apple's), for ``kindcast check`` to reuse."""
    problems = []
    for text in categories:
        try:
            parse_category(text)
        except ValueError as exc:
            problems.append(str(exc))
    return problems


def check_artwork(path: Path, file: str, field_name: str) -> list[Problem]:
    """Apple's rules: square, 1400-3000 px, RGB, JPEG or PNG with a matching extension."""
    from PIL import Image, UnidentifiedImageError

    if not path.is_file():
        return [Problem(file, field_name, f"{path.name}: file not found")]
    try:
        with Image.open(path) as img:
            fmt, (w, h), mode = img.format, img.size, img.mode
    except (UnidentifiedImageError, OSError):
        return [Problem(file, field_name, f"{path.name}: not a readable image")]
    problems = []
    if fmt not in ("JPEG", "PNG"):
        problems.append(Problem(file, field_name, f"{path.name}: must be JPEG or PNG (is {fmt})"))
    else:
        expected = (".jpg", ".jpeg") if fmt == "JPEG" else (".png",)
        if path.suffix.lower() not in expected:
            problems.append(Problem(file, field_name, f"{path.name}: the content is {fmt} but the extension says otherwise"))
    if w != h:
        problems.append(Problem(file, field_name, f"{path.name}: must be square (is {w}x{h})"))
    if not (ARTWORK_MIN <= w <= ARTWORK_MAX and ARTWORK_MIN <= h <= ARTWORK_MAX):
        problems.append(Problem(file, field_name, f"{path.name}: must be {ARTWORK_MIN}-{ARTWORK_MAX} px a side (is {w}x{h})"))
    if mode not in ("RGB",):
        problems.append(Problem(file, field_name, f"{path.name}: must be RGB colour (is {mode})"))
    return problems
