/** A change in % as the dashboard shows it: "+12.5%", "-3%", or "—" when there was nothing before. */
export function formatChange(percent: number | null | undefined): string {
  if (percent === null || percent === undefined) return "—";
  const rounded = Math.round(percent * 10) / 10;
  return `${rounded > 0 ? "+" : ""}${rounded}%`;
}
