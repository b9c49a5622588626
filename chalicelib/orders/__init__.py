"""Orders: the order a merchant's till or mini-program pays, its lines, and each money store's
part of it (points, stored value, gift cards; coupons and checkout next), with the refund
arithmetic by line. Ranked below the money stores: each records its part here and reverses its
own part through its own service."""
