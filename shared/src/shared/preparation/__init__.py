"""From recipients to dispatches (spec §3): the audience grammar, channel choice, merge, rendering, short links.

Shared by the preparer, which writes dispatches, and the api's preview, which only counts and samples them.
"""
