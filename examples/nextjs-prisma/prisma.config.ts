// The Prisma CLI's configuration: migrations run through the schema engine's
// WebAssembly build with the pg driver adapter (engine "js"), so
// `prisma migrate deploy` needs no native schema engine.
import { defineConfig } from "prisma/config";
import { PrismaPg } from "@prisma/adapter-pg";

export default defineConfig({
  engine: "js",
  experimental: { adapter: true },
  schema: "prisma/schema.prisma",
  migrations: { path: "prisma/migrations" },
  async adapter() {
    return new PrismaPg({ connectionString: process.env.DATABASE_URL });
  },
});
