"""Mall settlement (clearing): who owes whom for points, coupons, stored value and gift cards redeemed across parties."""
