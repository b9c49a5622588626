export default {
  app: { title: "会员运营台", logout: "退出登录", language: "English", role: "角色", forbidden: "当前角色（{role}）无权访问此页面：需要 {needs}" },
  roles: {
    super_admin: "超级管理员", ops_manager: "运营经理", finance: "财务", auditor: "审计",
    merchant_admin: "商户管理员", store_manager: "店长", clerk: "店员",
  },
  menu: { dashboard: "数据看板", members: "会员", member: "会员详情" },
  login: {
    title: "员工登录", program: "会员计划", login: "登录名", password: "密码", totp: "动态验证码",
    submit: "登录", totpRequired: "此账号需要动态验证码：请输入身份验证器中的 6 位数字",
    enrol: "此角色须启用动态验证码：用身份验证器扫描下方密钥后，输入其 6 位数字再登录",
    locked: "密码错误次数过多，账号已锁定：请 {seconds} 秒后再试", wrong: "登录名或密码错误",
  },
  dashboard: {
    merchant: "商户", store: "门店", allMerchants: "全部商户", allStores: "全部门店", period: "周期",
    day: "日", week: "周", month: "月", date: "日期", previous: "上期", series: "近 30 日趋势",
    balanceSheet: "会员负债表", line: "项目", liability: "负债", reconciliation: "对账", total: "合计",
    finishedAt: "完成于", asOf: "截至",
    status: { ok: "一致", disagree: "不一致", never_run: "未运行", none: "无对账" },
    lines: { points: "积分", stored_value: "储值", gift_cards: "礼品卡", coupons: "优惠券", membership_fees: "付费会员费" },
    metrics: {
      new_members: "新增会员", active_members: "活跃会员", buyers: "购买会员", gmv_fen: "成交额",
      points_issued: "发放积分", points_redeemed: "消耗积分", sv_topped_up_fen: "储值充值", coupons_used: "核销券数",
      checkouts: "订单数", members_total: "会员总数",
    },
  },
  members: {
    search: "查找会员", type: "类型", value: "号码", find: "查找", list: "会员列表", from: "注册自", to: "至",
    stage: "阶段", anyStage: "全部阶段", phone: "手机号", name: "姓名", tier: "等级", points: "积分",
    storedValue: "储值余额", registered: "注册时间", open: "查看", more: "加载更多", none: "没有会员",
    notFound: "没有找到该会员", chooseMerchant: "请选择商户",
    types: { phone: "手机号", card_no: "会员卡号", member_code: "会员码", wechat_openid: "微信 OpenID", wechat_unionid: "微信 UnionID", alipay_user_id: "支付宝用户 ID", email: "邮箱", member_id: "会员 ID" },
    stages: { new: "新会员", active: "活跃", dormant: "沉睡预警", churned: "流失" },
    register: "登记新会员", registerSubmit: "登记", registered_ok: "已登记会员 {id}",
  },
  member: {
    identities: "身份", profile: "资料", tier: "等级", growth: "成长值", next: "下一等级", points: "积分",
    available: "可用", pending: "待生效", held: "冻结", expiring: "即将过期", lots: "积分批次", expires: "过期日",
    storedValue: "储值", principal: "本金", bonus: "赠送金", balance: "余额", coupons: "优惠券", usable: "可用",
    couponState: "状态", couponName: "券", validUntil: "有效期至", none: "无",
  },
  common: { loading: "加载中…", retry: "重试", error: "出错了" },
};
