// 人员与集成页面的文案（issue #30 第五部分：Webhook、员工、API 密钥、任务运行）：独立命名空间 "people"，
// 在 ./index.ts 中与其余文案并列合并。
export default {
  secretOnce: "只显示这一次：请立即复制。之后不会再显示（刷新页面后也不会）。",
  copy: "复制", copied: "已复制", cancel: "取消", save: "保存", saved: "已保存",
  hooks: {
    create: "新建订阅", url: "URL", filters: "事件类型", filtersHint: "从事件目录中选择，或输入通配（points.*）",
    merchant: "仅某商户的事件（可选）", description: "说明", submit: "订阅",
    made: "已订阅：{id} 的签名密钥", edit: "修改订阅", enabled: "投递中",
    rotate: "轮换密钥", overlap: "旧密钥继续签名（小时）", rotated: "新的签名密钥",
    oldUntil: "旧密钥在 {until} 之前继续并行签名。", oldNow: "旧密钥已立即停止签名。",
    delete: "删除", confirmDelete: "删除此订阅？之后不再向它投递。", confirm: "确认删除",
    deleted: "已删除", secrets: "签名密钥", current: "当前", retires: "{at} 停用", none: "无",
    needFilters: "至少选择一个事件类型", needUrl: "请填写 URL（https://…）",
    at: "时间", replaySince: "重新投递 {since} 以来的全部事件", replayMore: "继续重发",
    moreToReplay: "还有未重发的事件",
  },
  staff: {
    edit: "修改", editTitle: "修改 {login}", role: "角色", scope: "商户 / 门店", submit: "保存",
    endsLogins: "修改角色或范围会使该账号的登录全部失效。", changed: "已保存：{login} 现为 {role}",
    reset: "重置密码", resetDone: "{login} 的密码已清除，登录已全部失效。下方的一次性设置密码码（{until} 前有效）只显示这一次：本人在登录页（“我有一次性设置码”）用它设置新密码。",
    retryNoCode: "此重置已完成（同一请求）：设置码不会保存，无法再次显示。请重新重置以获得新码。",
    totp: "动态验证码", totpOn: "已启用", totpOff: "未启用", lockout: "锁定",
    lockedUntil: "登录已锁定至 {until}（密码错误次数过多）", unlock: "解除锁定",
    notLocked: "登录未锁定（连续输错密码 {n} 次）",
    lockoutUnknown: "接口未提供", lastLogin: "最近登录", self: "本人",
  },
  keys: {
    rotate: "轮换", overlap: "旧密钥继续可用（小时）", rotated: "新密钥 {id} 取代 {old}：其签名密钥只显示这一次：",
    oldUntil: "旧密钥在 {until} 之前继续可用，之后被拒绝。", retiring: "停用中", until: "至 {at}",
  },
  jobs: {
    title: "定时任务", job: "任务", every: "周期", minutes: "{n} 分钟", hours: "{n} 小时", days: "{n} 天",
    asOf: "最近运行的基准时间", finished: "完成时间", part: "分段", state: "状态", behind: "落后", onTime: "正常",
    continues: "续跑中", never: "从未运行", hqNote: "各任务最近一次运行（所有会员计划共用）：运行结果的计数属于平台（包含所有计划的数据），此处不显示。",
    readAt: "读取于 {at}",
  },
  setPassword: {
    link: "我有一次性设置码", title: "设置新密码", code: "一次性设置码", newPassword: "新密码",
    submit: "设置密码", done: "密码已设置：请用新密码登录。", back: "返回登录",
  },
};
