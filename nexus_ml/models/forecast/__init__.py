"""Demand forecasters: the seasonal champion, the lead-time quantiles and the scaling risk."""
