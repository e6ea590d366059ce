export function renderSqlModule(): string;
export function writeSqlModule(): void;
