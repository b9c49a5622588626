"""Benefits: rules that map a member's tier, paid plan, birthday, member day, stage and dates to
points multipliers, discounts, price lists, coupon packs, free shipping, dedicated service."""
