import { createRouter, createWebHistory, type RouteRecordRaw } from "vue-router";
import { menuOf, PAGES } from "./pages/registry";
import { mayAll } from "./api/permissions";
import { onExpired, role, session } from "./api/session";
import { programTimezone } from "./api/program";

const routes: RouteRecordRaw[] = [
  { path: "/login", name: "login", component: () => import("./pages/LoginPage.vue"), meta: { public: true } },
  ...PAGES.map((p) => ({ path: p.path, name: p.name, component: p.component, meta: { page: p } })),
  { path: "/forbidden", name: "forbidden", component: () => import("./pages/ForbiddenPage.vue") },
  { path: "/:rest(.*)*", redirect: () => ({ path: session.current ? firstPage() : "/login" }) },
];

export const router = createRouter({ history: createWebHistory("/console/"), routes });

/** The first page of the menu the role may open (a clerk: the till's pages). */
export function firstPage(): string {
  return menuOf((p) => mayAll(role(), p.needs), Boolean(session.current?.staff.store_id))[0]?.path ?? "/forbidden";
}

router.beforeEach(async (to) => {
  if (to.meta.public) return true;
  if (!session.current) return { name: "login", query: { next: to.fullPath } };
  await programTimezone();        // every date a page works out is on the program's clocks
  if (!session.current) return { name: "login", query: { next: to.fullPath } };     // the login ended meanwhile
  const page = to.meta.page as (typeof PAGES)[number] | undefined;
  if (page && !mayAll(role(), page.needs)) return { name: "forbidden", query: { page: page.name } };
  return true;
});

// A login that ended (refresh refused): to login, and back here after.
// Where the user was is the address bar's (the router's current route is still the start while
// the first navigation waits).
onExpired(() => {
  const here = location.pathname.replace(/^\/console/, "") + location.search;
  if (!here.startsWith("/login")) void router.push({ name: "login", query: { next: here || "/", expired: "1" } });
});
