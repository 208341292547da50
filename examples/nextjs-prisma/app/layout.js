export const metadata = {
  title: "codeb: Next.js with Prisma",
};

export default function RootLayout({ children }) {
  return (
    <html lang="en">
      <body>{children}</body>
    </html>
  );
}
