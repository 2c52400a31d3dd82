"""Who sends each request: address, user agent, referer, basic-auth user."""

from __future__ import annotations

import polars as pl

from loggen import catalogue as cat
from loggen.fmt import hex_group
from loggen.rng import Rng, gather

IPV6_SHARE = 0.06


def _address(rng: Rng) -> pl.Expr:
    """A stable address per client: mostly public-looking IPv4, some IPv6."""
    client = pl.col("client")
    h = rng.u64("ip", client)
    first = gather(list(cat.FIRST_OCTETS), (h % len(cat.FIRST_OCTETS)).cast(pl.Int64))
    rest = [((h // (1 << shift)) % 256).cast(pl.String) for shift in (8, 16, 24)]
    ipv4 = pl.concat_str([first.cast(pl.String), *rest], separator=".")
    tail = hex_group(rng.u64("ip6", client), 0)
    ipv6 = pl.concat_str(
        [pl.lit("2a02:c7c:"), hex_group(h, 2), pl.lit(":"), hex_group(h, 3), pl.lit("::"), tail]
    )
    return pl.when(rng.uniform("v6", client) < IPV6_SHARE).then(ipv6).otherwise(ipv4)


def client_columns(rng: Rng) -> list[pl.Expr]:
    """`remote_addr`, `user_agent`, `referer`, `remote_user` for a frame with `client`."""
    client = pl.col("client")
    override = cat.route_attr("agent")
    probe = (override == "probe") & ~pl.col("garbage")
    internal = pl.concat_str([pl.lit("10.0."), (rng.below("probe", 3) + 1).cast(pl.String)])
    agent_idx = rng.choice("agent", [w for _, w, _ in cat.AGENTS], client)
    agent = gather([a for a, _, _ in cat.AGENTS], agent_idx)
    for name, choices in cat.AGENT_OVERRIDES.items():
        pick = gather(list(choices), rng.below("agent/" + name, len(choices)))
        agent = pl.when(override == name).then(pick).otherwise(agent)
    sends_referer = gather([s for _, _, s in cat.AGENTS], agent_idx) & override.is_null()
    referer = gather([r for r, _ in cat.REFERERS], rng.choice("ref", [w for _, w in cat.REFERERS]))
    user = gather(list(cat.REMOTE_USERS), rng.below("user", len(cat.REMOTE_USERS), client))
    dash = pl.lit("-")
    return [
        pl.when(probe).then(internal + pl.lit(".1")).otherwise(_address(rng)).alias("remote_addr"),
        agent.alias("user_agent"),
        pl.when(sends_referer).then(referer).otherwise(dash).alias("referer"),
        pl.when(cat.route_attr("authenticated")).then(user).otherwise(dash).alias("remote_user"),
    ]
