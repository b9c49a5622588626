// 优惠券模板的其他条款（components/CouponTermsFields.vue、CouponTemplateCreate.vue）。
export default {
  steps: "满减阶梯", spend: "满", off: "减", remove: "删除", addStep: "添加一档", giftSku: "赠品 SKU",
  parkingHours: "免费停车小时数", validity: "有效期", forDays: "领取后若干天", betweenDates: "固定起止时间",
  starts: "可用开始", onClaim: "领取时", ends: "可用截止",
  lists: { merchants: "适用商户", stores: "适用门店", skus: "适用 SKU", categories: "适用品类", exclude_stores: "不适用门店", exclude_skus: "不适用 SKU" },
  any: "不限（逗号分隔）", noneExcluded: "无", weekdays: "每周可用日", everyDay: "每天（6,7：周末）",
  timeOfDay: "每日可用时段", stacking: "与其他券叠加", exclusive: "不可叠加", joint: "可叠加",
  onDiscounted: "按优惠后金额", onOriginal: "按原价", group: "叠加组", groupMax: "同组最多",
  costBearer: "优惠承担方", bearers: { brand: "品牌", mall: "商场", merchant: "商户" },
  stepMoney: "第 {n} 档：请填写两个金额", stepOff: "第 {n} 档：减免须小于门槛", stepsAscend: "第 {n} 档：门槛与减免须逐档递增",
  badHours: "请输入 1–24", badDays: "请输入 1–3650", endsAfter: "须晚于开始时间", tooLong: "名称最长 64 个字符",
  both: "同时在适用与不适用中：{names}", badWeekdays: "星期为 1（周一）到 7（周日），逗号分隔", badTime: "时间格式 HH:MM（结束可为 24:00）",
  toAfter: "须晚于开始（时段不跨零点）", badGroupMax: "请输入 1–10", badShare: "比例为 1–100（不承担的留空）", hundred: "各方比例之和须为 100",
  create: "新建优惠券模板", kind: "券类型", kinds: { amount_off: "满减券", threshold: "阶梯满减", percent_off: "折扣券",
    no_threshold: "无门槛券", gift_item: "赠品券", free_shipping: "免运费券", parking: "停车券" },
  stock: "库存", state: "状态", draft: "草稿", active: "立即生效", submit: "创建模板", created: "已创建模板 {id}",
  open: "新建模板", close: "收起", minAbove: "须高于减免金额",
};
