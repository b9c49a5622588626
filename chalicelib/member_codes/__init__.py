"""Member codes (会员码): the code a member shows at a till, changing every minute."""
