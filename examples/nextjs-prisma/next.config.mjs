/** @type {import('next').NextConfig} */
const nextConfig = {
  // A self-contained server (.next/standalone/server.js) for the container image.
  output: "standalone",
  // Prisma's query compiler is read from a file at run time, which Next's
  // tracing cannot see: copy it into the standalone output with the client.
  outputFileTracingIncludes: {
    "/**": ["./node_modules/.prisma/client/query_compiler_bg.wasm"],
  },
};

export default nextConfig;
